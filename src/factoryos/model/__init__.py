"""Domain types: assets, tags, samples and quality, Unified Namespace paths, site files."""

from factoryos.model.errors import ModelError, SiteFileError
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import Device, Equipment, Site, SiteFile, load_site, parse_site
from factoryos.model.tags import DataType, ModbusTable, Tag, WordOrder

__all__ = [
    "DataType",
    "Device",
    "Equipment",
    "ModbusTable",
    "ModelError",
    "Quality",
    "SampleBatch",
    "Site",
    "SiteFile",
    "SiteFileError",
    "Tag",
    "WordOrder",
    "load_site",
    "parse_site",
]
