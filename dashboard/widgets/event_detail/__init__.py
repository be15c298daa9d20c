"""Widgets of 事件详情 (dashboard/views/event_detail.py): the record, its timeline, linked records and map."""
