"""Scripts run by the AutoTrain runtime's interpreter (its venv has autotrain, not ftsdk).

They import nothing from ftsdk and are run by path (``python <file>``), never imported here.
"""
