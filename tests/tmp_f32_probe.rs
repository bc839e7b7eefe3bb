use knob::gguf::Gguf;
use knob::model::gguf_source::GgufSource;
use knob::model::llama::{Llama, SessionOptions};
use knob::model::{LanguageModel, ModelError, ModelSource, TensorData};

struct F32Src(GgufSource);
impl ModelSource for F32Src {
    fn meta_str(&self, k: &str) -> Option<String> { self.0.meta_str(k) }
    fn meta_u32(&self, k: &str) -> Option<u32> { self.0.meta_u32(k) }
    fn meta_f32(&self, k: &str) -> Option<f32> { self.0.meta_f32(k) }
    fn tensor_dims(&self, n: &str) -> Option<Vec<usize>> { self.0.tensor_dims(n) }
    fn tensor(&self, n: &str) -> Result<TensorData, ModelError> {
        Ok(match self.0.tensor(n)? {
            TensorData::Q8(b) => { let b = b.blocks(); let mut v = vec![0f32; b.len()*32]; knob_kernels::dequantize_row_q8_0(b, &mut v); TensorData::F32(v) }
            t => t,
        })
    }
}

#[test]
fn probe() {
    let refs: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("tests/fixtures/smollm2_llamacpp_refs.json").unwrap()).unwrap();
    let src = GgufSource::new(Gguf::open("/work/models/SmolLM2-135M-Instruct.Q4_1.gguf").unwrap());
    let mut q = Llama::load(&src, SessionOptions { threads: 2, context: Some(256), max_batch: 64 }).unwrap();
    let mut f = Llama::load(&F32Src(src.clone()), SessionOptions { threads: 2, context: Some(256), max_batch: 64 }).unwrap();
    for chat in refs["chats"].as_array().unwrap() {
        let ids: Vec<u32> = chat["prompt_ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        q.reset(); f.reset();
        let lq = q.prefill(&ids).unwrap().to_vec();
        let lf = f.prefill(&ids).unwrap().to_vec();
        let mut s = String::new();
        for p in chat["steps"][0]["top5"].as_array().unwrap() {
            let id = p[0].as_u64().unwrap() as usize; let l = p[1].as_f64().unwrap();
            s += &format!(" [{id}: cpp {l:.2} q8 {:.2} f32 {:.2}]", lq[id], lf[id]);
        }
        eprintln!("{}", s);
    }
}
