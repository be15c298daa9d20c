"""Widgets of the 分析研判 page (dashboard/views/analysis.py)."""
