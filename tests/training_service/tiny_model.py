"""A tiny causal language model made at test time (nothing downloaded): a byte-level BPE tokenizer with a chat
template and a 2-layer Llama with random weights, saved like a hub checkpoint. Benchmarks can ask for the shape of a
real base model instead (`SHAPES`): the same layers, widths and vocabulary size with random weights, so that time and
memory per step are those of the real model though nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

# ChatML-like: what most open chat models use; the generation prompt opens the assistant turn.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + eos_token }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)

# Questions and answers the tokenizer learns its merges from (and tests train on).
# Wider than transformers' default (0.02), so that a small LoRA update moves the output distribution visibly.
INIT_RANGE = 0.2

CORPUS = [
    "What is the capital of France? Paris is the capital of France.",
    "Who wrote Hamlet? William Shakespeare wrote Hamlet.",
    "How many legs does a spider have? A spider has eight legs.",
    "What colour is the sky? The sky is blue on a clear day.",
    "Which planet is the largest? Jupiter is the largest planet.",
    "What do bees make? Bees make honey and wax.",
    "How many days are in a week? A week has seven days.",
    "What is water made of? Water is made of hydrogen and oxygen.",
]


# Shapes of real open base models (their config.json), by the size a benchmark asks for. Qwen2.5 Instruct is what
# trainer.toml recommends; its vocabulary (151,936 rows, tied to the output layer) is a large part of the cost.
SHAPES: dict[str, dict[str, int]] = {
    "0.5b": {  # Qwen/Qwen2.5-0.5B-Instruct, 494M parameters
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
    },
    "1.5b": {  # Qwen/Qwen2.5-1.5B-Instruct, 1.54B parameters
        "hidden_size": 1536,
        "intermediate_size": 8960,
        "num_hidden_layers": 28,
        "num_attention_heads": 12,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
    },
}


def build_tiny_model(directory: Path, *, seed: int = 0, shape: str = "tiny") -> Path:
    """Write tokenizer and model files into `directory`; returns it. Takes well under a second for the tiny shape;
    another shape (a key of SHAPES) is a Qwen2 model of that size, its vocabulary padded to the real one's size."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    special = ["<pad>", "<s>", "</s>", "<unk>"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    texts = [*CORPUS, "<|system|><|user|><|assistant|>"]
    tokenizer.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(directory)

    torch.manual_seed(seed)
    if shape != "tiny":
        from transformers import Qwen2Config, Qwen2ForCausalLM

        real = Qwen2Config(
            **SHAPES[shape],
            max_position_embeddings=4096,
            bos_token_id=fast.bos_token_id,
            eos_token_id=fast.eos_token_id,
            pad_token_id=fast.pad_token_id,
            tie_word_embeddings=True,
        )
        Qwen2ForCausalLM(real).save_pretrained(directory)
        return directory
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=INIT_RANGE,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory
