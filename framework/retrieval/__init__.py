"""What retrievers share: encoders, the bi-encoder, model resolution, sharded encoding
executors, vector search, fusion, stemming.
"""
