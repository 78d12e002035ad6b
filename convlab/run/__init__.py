"""Running the study: the setup call every notebook makes (`notebook`), the pipeline that executes the notebooks in order
and reuses what is current (`pipeline`), and the Jupyter kernels it runs them in (`jupyter_kernels`).

May import the packages below it, up to `figures`.
"""
