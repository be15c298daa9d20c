"""Widgets of 趋势与导出 (dashboard/views/trends.py): scope, comparisons, trends, playback map, patrol months, downloads."""
