# Empty dependencies file for fake_openai.
# This may be replaced when dependencies are built.
