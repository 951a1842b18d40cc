"""The class-level study (docs/class_study.md): does fine-grained alignment beat global
alignment, and on which synthetic shifts? Run as ``python -m bench.class_study STEP``."""
