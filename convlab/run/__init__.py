"""Running the study: the setup call every notebook makes (`notebook`), the pipeline that executes the notebooks in order
and reuses what is current (`pipeline`), the Jupyter kernels it runs them in (`jupyter_kernels`), and a run's
trainings sent to SageMaker before the notebooks run (`remote`).

May import the packages below it, up to `figures`, and `serving` (for `remote`).
"""
