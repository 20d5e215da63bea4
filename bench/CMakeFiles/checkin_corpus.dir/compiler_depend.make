# Empty compiler generated dependencies file for checkin_corpus.
# This may be replaced when dependencies are built.
