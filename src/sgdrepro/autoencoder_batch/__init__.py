"""autoencoder_batch (see ../shared/papers/autoencoder_batch.md): to be implemented."""
