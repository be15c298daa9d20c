"""Widgets of 网格详情 (dashboard/views/grid_detail.py): grid picking, panels, people, patrols and event history."""
