"""Every limit an imported file is held to, in one place.

What a file may hold is decided here, before any reader allocates for it.
"""

# The first rows shown on the mapping page (and read to guess the columns).
PREVIEW_ROWS = 8
# More columns than this is not a contact list (or not a CSV read the right way).
MAX_COLUMNS = 60
# Sheets whose XML is larger than this are streamed rather than read whole by calamine.
STREAM_ABOVE = 64 * 1024 * 1024
