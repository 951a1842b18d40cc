"""fada_tf.training.stages.common: what the stages share."""

from types import SimpleNamespace

import pytest

from fada_tf.config import load_config
from fada_tf.errors import FadaError
from fada_tf.training.stages.common import StageContext, train_stage


def test_a_global_batch_must_split_evenly_over_the_replicas(tmp_path):
    config = load_config("configs/synthetic.yaml", ["adapt.batch_size=4"])
    three_replicas = SimpleNamespace(num_replicas_in_sync=3)
    context = StageContext(config, run=None, strategy=three_replicas, table=None, verbose=0)
    with pytest.raises(FadaError, match=r"adapt.batch_size = 4 must be divisible by the 3 replicas"):
        train_stage(context, model=None, data=None, stage="adapt", resume=None)
