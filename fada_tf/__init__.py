"""fada-tf: fine-grained adversarial domain adaptation (FADA, ECCV 2020) in Keras 3 / TensorFlow.

Importing ``fada_tf`` loads neither TensorFlow nor Keras; the subpackages that need them
(``fada_tf.models``, ``fada_tf.adaptation``, ``fada_tf.evaluation``, ``fada_tf.training``)
import them when they are imported.
"""

from fada_tf.config import Config, load_config

__all__ = ["Config", "load_config"]
__version__ = "0.2.0"
