"""Statistics over engine outputs: smoothing, correlation and models (numpy/scipy/statsmodels)."""
