//! `PortsSpec`: ranges and single ports, 0..=65535, each range with `from <= to`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortsSpec {
    pub ranges: Vec<(u16, u16)>,
    pub ports: Vec<u16>,
}
