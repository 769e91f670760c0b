"""Where originals, thumbnails and image records live: a local folder or an S3 bucket."""
