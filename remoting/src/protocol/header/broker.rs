//! Headers of the broker's requests and responses (filled in with the broker processors).
