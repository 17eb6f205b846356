"""Course exercises: student stubs in NN-topic/ folders and their checker, check.py."""
