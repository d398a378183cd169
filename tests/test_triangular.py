"""lepot.fitting.triangular.fold_rows against the definition R'ᵀR' = RᵀR + BᵀB (an explicit Cholesky factor)."""

import numpy as np
import pytest

from lepot.fitting.triangular import fold_rows


def _triangle(rng, n):
    return np.triu(rng.normal(size=(n, n))) + 3.0 * np.eye(n)


@pytest.mark.parametrize("n, m", [(1, 1), (7, 3), (40, 100), (70, 5)])
def test_folded_factor_is_the_cholesky_factor_of_the_summed_gram_matrix(n, m):
    rng = np.random.default_rng(n + m)
    triangle, rows = _triangle(rng, n), rng.normal(size=(m, n))
    before = (triangle.copy(), rows.copy())
    gram = triangle.T @ triangle + rows.T @ rows
    cholesky = np.linalg.cholesky(gram).T
    folded = fold_rows(triangle, rows, positive_diagonal=True)
    np.testing.assert_allclose(folded, cholesky, rtol=0, atol=1e-12 * np.abs(cholesky).max())
    signed = fold_rows(triangle, rows)  # LAPACK's row signs: the same Gram matrix
    assert np.array_equal(signed, np.triu(signed))
    np.testing.assert_allclose(signed.T @ signed, gram, rtol=0, atol=1e-12 * np.abs(gram).max())
    assert np.array_equal(triangle, before[0]) and np.array_equal(rows, before[1])  # arguments unchanged


def test_triangular_rows_and_no_rows():
    rng = np.random.default_rng(3)
    triangle, other = _triangle(rng, 30), _triangle(rng, 30)
    folded = fold_rows(triangle, other, rows_triangular=True, positive_diagonal=True)
    np.testing.assert_allclose(folded, np.linalg.cholesky(triangle.T @ triangle + other.T @ other).T,
                               rtol=0, atol=1e-12 * np.abs(folded).max())
    assert np.array_equal(fold_rows(triangle, np.zeros((0, 30))), triangle)


def test_a_zero_factor_takes_fewer_rows_than_columns():
    """The first chunk of a streamed design can have fewer rows than columns: R' is then the R of those rows."""
    rng = np.random.default_rng(4)
    rows = rng.normal(size=(3, 8))
    folded = fold_rows(np.zeros((8, 8)), rows)
    np.testing.assert_allclose(folded.T @ folded, rows.T @ rows, rtol=0, atol=1e-12)
    assert np.abs(folded[3:]).max() < 1e-12  # round-off: three rows span three directions


def test_in_place_overwrites_only_a_fortran_factor():
    rng = np.random.default_rng(6)
    rows = rng.normal(size=(5, 12))
    fortran = np.asfortranarray(_triangle(rng, 12))
    expected = fold_rows(fortran, rows)
    assert fold_rows(fortran, rows, in_place=True) is fortran and np.array_equal(fortran, expected)
    c_ordered = np.ascontiguousarray(_triangle(rng, 12))
    kept = c_ordered.copy()
    np.testing.assert_allclose(fold_rows(c_ordered, rows, in_place=True), fold_rows(kept, rows), rtol=0, atol=0)
    assert np.array_equal(c_ordered, kept)
