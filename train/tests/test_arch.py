"""The decoder-only twin of mu (issue 19): its size and its padded training batches."""
import jax
import jax.numpy as jnp
import numpy as np

from knobtrain import model as M
from knobtrain import model_dec as MD


def test_the_matched_decoder_only_model_has_the_encoder_decoders_size():
    for shape in [dict(d_model=64, d_ff=128, n_enc=2, n_dec=1, n_head=4, n_head_kv=2),
                  dict(d_model=128, d_ff=512, n_enc=4, n_dec=2, n_head=4, n_head_kv=2),
                  dict(d_model=384, d_ff=1024, n_enc=8, n_dec=4, n_head=6, n_head_kv=2)]:
        ed = M.Config(n_vocab=3147, enc_ctx=64, dec_ctx=32, **shape)
        dec = MD.matched(ed)
        n_ed = M.n_params(M.init_params(ed, jax.random.PRNGKey(0)))
        n_dec = MD.n_params(MD.init_params(dec, jax.random.PRNGKey(0)))
        assert n_ed == MD.count_encdec_params(ed) and n_dec == MD.count_params(dec)
        assert abs(n_dec - n_ed) <= 0.05 * n_ed, (shape, n_ed, n_dec)
        assert (dec.d_model, dec.n_head, dec.n_head_kv) == (ed.d_model, ed.n_head, ed.n_head_kv)
        assert dec.d_ff % 32 == 0 and dec.n_layer > ed.n_dec


def test_padding_between_query_and_program_changes_no_program_logit():
    # Training batches pad the query on the right, so padding sits between query
    # and program; inference has none. The program's logits must be the same.
    cfg = MD.DecConfig(n_vocab=50, d_model=32, d_ff=64, n_layer=2, n_head=4, n_head_kv=2, enc_ctx=8, dec_ctx=6)
    p = MD.init_params(cfg, jax.random.PRNGKey(1))
    query, program = [5, 9, 13], [1, 20, 21, 22]
    padded = MD.forward(cfg, p, jnp.asarray([query + [0] * 5]), jnp.asarray([program + [0, 0]]))[0, :4]
    seq = jnp.asarray([query + program])
    plain = MD.forward_seq(cfg, p, seq, jnp.arange(7)[None], jnp.ones_like(seq, bool))[0, 3:]
    np.testing.assert_allclose(np.asarray(padded), np.asarray(plain), atol=1e-5)
