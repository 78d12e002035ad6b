"""The explorer (`make explore`): a page on 127.0.0.1 where a student picks, draws, shifts, scrambles or blurs with
noise a digit, and watches the FC network and the CNN of the latest run answer, with the CNN's first-layer maps
and the run's accuracy-against-shift curves. `answers` holds the models and what they say; `server` is the WSGI
app and its command line; `page.html` is the page, with no resource from outside.

May import `study`, `store`, `datasets`, `training` and `experiments`.
"""
