//! The election and learner ports' wire formats (Apache 3.8/3.9).
