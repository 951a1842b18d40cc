"""Evaluation: segmentation metrics (``metrics``), single-scale and multi-scale + flip
evaluation (``evaluate``, ``scales``), the target domain's validation split (``target``),
saved label maps (``label_files``), Class Center Distance (``ccd``) and report tables
(``report``). Importing the package loads nothing; import the module you need."""
