use memo::cached;

struct Service {
    region: String,
}

impl Service {
    #[cached(key = "{id}:{self.regoin}")]
    fn load(&self, id: u64) -> String {
        format!("{}:{id}", self.region)
    }
}

fn main() {
    Service { region: "eu".into() }.load(1);
}
