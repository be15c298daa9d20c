"""The dashboard's widgets: a package per page (command_center, grid_detail, trends); `common` for what pages share."""
