"""`minqing init`: inspect a city's boundary files and event exports and draft a complete, commented project."""
