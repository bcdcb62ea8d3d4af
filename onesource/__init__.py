"""OneSource: the engine of the data-sharing and exchange hub."""

from onesource._toplevel import check_top_level_packages

check_top_level_packages()
