"""Data through tensorflow-datasets: offline builders, random-access sources, sharded batches."""

from jaxgen.data.sources import OFFLINE_BUILDERS, default_data_dir, load_arrays, open_split

__all__ = ["OFFLINE_BUILDERS", "default_data_dir", "load_arrays", "open_split"]
