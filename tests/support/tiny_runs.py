"""The overrides of a source-only run small enough for a test: 2 steps on 32 × 64 scenes."""

TINY = ["run.stages=[source]", "source.steps=2", "source.batch_size=2", "run.log_every=1",
        "data.synthetic.height=32", "data.synthetic.width=64", "data.synthetic.source_images=4",
        "data.synthetic.target_train_images=4", "data.synthetic.target_val_images=2",
        "source.source_images.resize=[32,64]", "source.source_images.crop=[32,64]"]
