"""Typed configuration: dataclass schema, YAML loading with one ``_base_``, dotted overrides."""

from fada_tf.config.loader import dump_config, from_dict, load_config, to_dict
from fada_tf.config.schema import Config

__all__ = ["Config", "dump_config", "from_dict", "load_config", "to_dict"]
