"""Widgets of 指挥中心 (dashboard/views/command_center.py): KPI tiles, map, feed, patrol tiles and live refresh."""
