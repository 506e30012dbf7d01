"""Domain types: assets, tags, samples and quality, Unified Namespace paths, site files."""

from factoryos.model.devices import AnyDevice, ModbusTcpDevice
from factoryos.model.errors import ModelError, SiteFileError
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import Equipment, Site, SiteFile, load_site, parse_site
from factoryos.model.tags import DataType, ModbusTable, Tag, WordOrder

__all__ = [
    "AnyDevice",
    "DataType",
    "Equipment",
    "ModbusTable",
    "ModbusTcpDevice",
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
