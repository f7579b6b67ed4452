# autoencoder_batch: rules (filled in by the paper's issue)
