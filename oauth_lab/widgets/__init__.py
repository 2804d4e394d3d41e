"""The course's widgets. Each works by clicking in JupyterLab and by code, and has a text face."""
