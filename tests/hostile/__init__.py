"""Hostile input for the loader, generated at test time in a temporary folder (nothing big is committed).

`project` builds a small project (three grid levels, one department mapping, minqing.toml) around the
files under test; `files` makes the hostile files themselves (damaged, truncated, mis-encoded, bombs);
`isolated` runs a reader in a child process with a timeout and reports its peak memory.
"""
