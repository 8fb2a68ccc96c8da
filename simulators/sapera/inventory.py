"""`/api/inventory/...` and the sales accounts: how a connector turns a SKU into the product,
variant or instance ids a sale item needs, and learns the VAT rate behind a product.

GetProductPage's `searchPattern` matches the product's identifier or any of its variants' or
instances' identifiers (case-insensitive substring), so searching for a variant's SKU finds its
product. Variant and instance answers show a price or cost only where the row has its own
(null means "the product's"), as ProductVariantInfo does. The instances and accounts URLs are
our guesses (options).
"""

from __future__ import annotations

from typing import Any

from simulators.sapera.context import Ctx, Route
from simulators.sapera.envelope import not_exists
from simulators.sapera.options import SaperaSimOptions
from simulators.sapera.paging import page

PRODUCT = (
    "id",
    "identifier",
    "displayName",
    "financialAccountNumber",
    "salesPrice",
    "costPrice",
    "isDefaultCostPriceApplicable",
    "defaultCostPrice",
    "isProductVariantsSupported",
    "isProductInstancesSupported",
    "isUserDefinedPriceAllowed",
)


def product_page(ctx: Ctx) -> dict[str, Any]:
    pattern = (ctx.body.text("searchPattern", wrapped=True) or "").lower()
    rows = [
        product
        for product in ctx.store.products.values()
        if not pattern
        or any(pattern in identifier.lower() for identifier in ctx.store.identifiers_of(product))
    ]
    return page(ctx.body, rows, lambda product: {"product": {k: product[k] for k in PRODUCT}})


def variant_infos(ctx: Ctx) -> list[dict[str, Any]]:
    return [dict(variant) for variant in ctx.store.variants_of(_product_id(ctx))]


def instances(ctx: Ctx) -> list[dict[str, Any]]:
    return [dict(instance) for instance in ctx.store.instances_of(_product_id(ctx))]


def accounts(ctx: Ctx) -> list[dict[str, Any]]:
    return [dict(account) for account in ctx.store.accounts.values()]


def _product_id(ctx: Ctx) -> int:
    product_id = ctx.body.integer("productId", wrapped=True, required=True) or 0
    if product_id not in ctx.store.products:
        raise not_exists(f"Product {product_id} does not exist.")
    return product_id


def routes(options: SaperaSimOptions) -> list[Route]:
    return [
        Route("api/inventory/Product/GetProductPage", product_page, "PageResult<ProductPageEntry>"),
        Route(
            "api/inventory/ProductVariant/GetProductVariantInfos",
            variant_infos,
            "List<ProductVariantInfo>",
        ),
        Route(options.instances_path, instances, "List<ProductInstance>"),
        Route(options.accounts_path, accounts, "List<FinancialAccount>"),
    ]
