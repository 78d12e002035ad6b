"""The documents: the supplement assembled from the executed notebooks (`report`, `layout`, `appendix`, `document`), its
checks (`doccheck`) and publishing a full run (`publish`). The paper itself is `convlab.paper`.

May import every package below it, `paper` included.
"""
