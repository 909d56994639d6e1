from corpus.generated_models import Generated


def from_generated(g: int) -> Generated:
    return Generated(g=g)
