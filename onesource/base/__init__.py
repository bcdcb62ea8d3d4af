"""Golden records per entity, each column taken ONLY from its element's source resource."""

from onesource.base.build import BaseResult, build_base

__all__ = ["BaseResult", "build_base"]
