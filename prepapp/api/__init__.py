"""The REST API, one module per audience or resource; the top layer, calling the workflows below it.

`urls.py` maps every endpoint under /api/v1/.
"""
