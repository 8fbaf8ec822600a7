"""The studio's bundled files (starter model, example graphs, sounds), installed as ``studio.resources``.

Find them through :mod:`studio.bundled`, never by path arithmetic.
"""
