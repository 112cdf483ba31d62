//! The standards and the district are read on nearly every request and change rarely: each is
//! kept as last read in a [`kernel::Latest`], brought up to date with one read of its stream's
//! tail on every use.

pub(crate) use kernel::{Latest, Versioned};

use crate::domain::{DistrictSettings, Standards};

impl Versioned for Standards {
    fn version(&self) -> u64 {
        self.version
    }
}

impl Versioned for DistrictSettings {
    fn version(&self) -> u64 {
        self.0.version
    }
}
