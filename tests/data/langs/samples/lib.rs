use std::collections::HashMap;

pub struct Cache {
    map: HashMap<String, Vec<u8>>,
}

impl Cache {
    pub fn new() -> Self {
        Cache { map: HashMap::new() }
    }
    pub fn get(&self, k: &str) -> Option<&Vec<u8>> {
        self.map.get(k)
    }
}
