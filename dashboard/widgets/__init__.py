"""Reusable pieces of the dashboard's screens; `cc_*` modules belong to the command center (指挥中心)."""
