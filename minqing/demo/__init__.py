"""Synthetic demo city: grids at the real place and size of Shanwei and seven departments' exports."""
