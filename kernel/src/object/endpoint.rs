//! Endpoint: a rendezvous point for synchronous IPC. Created and deleted now; message transfer
//! (call, send, recv, reply) comes with the IPC work.

use super::quota::Charge;

pub struct Endpoint {
    _charge: Option<Charge>,
}

impl Endpoint {
    pub fn new(charge: Option<Charge>) -> Endpoint {
        Endpoint { _charge: charge }
    }
}
