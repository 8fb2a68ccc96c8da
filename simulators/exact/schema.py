"""The entity sets the simulator serves, with their properties and kinds, in Exact's own names.

Property names are case-sensitive and a body property the type lacks is refused (WCF Data
Services behaviour), so the lists are generous: the properties Exact documents for each type,
whether or not the simulator gives them meaning. A trailing `!` marks a property the server sets;
a client may send it and it is ignored, as Exact does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("str", "guid", "int", "num", "bool", "date")
CLR_TYPES = {
    "str": "System.String",
    "guid": "System.Guid",
    "int": "System.Int32",
    "num": "System.Double",
    "bool": "System.Boolean",
    "date": "System.DateTime",
}


@dataclass(frozen=True)
class Prop:
    kind: str
    read_only: bool = False


def props(spec: str) -> dict[str, Prop]:
    """`"ID:guid! Code Name IsSales:bool"` as properties; the kind defaults to str."""
    result: dict[str, Prop] = {}
    for word in spec.split():
        read_only = word.endswith("!")
        name, _, kind = word.rstrip("!").partition(":")
        assert (kind or "str") in KINDS, word
        result[name] = Prop(kind or "str", read_only)
    return result


@dataclass(frozen=True)
class EntitySet:
    service: str
    name: str
    type_name: str
    key: str
    props: dict[str, Prop] = field(repr=False)
    methods: frozenset[str] = frozenset({"GET"})
    lines: str | None = None  # the navigation property holding child lines
    filter_fields: tuple[str, ...] = ()  # strict mode: a list's $filter must use one of these
    wide: bool = False  # strict mode: a list needs $select or $top=1

    @property
    def path(self) -> str:
        return f"{self.service}/{self.name}"

    def kinds(self) -> dict[str, str]:
        return {name: prop.kind for name, prop in self.props.items()}


ALL = frozenset({"GET", "POST", "PUT", "DELETE"})
_STAMPS = " Created:date! Creator:guid! Modified:date! Modifier:guid! Division:int!"

ACCOUNTS = EntitySet(
    "crm",
    "Accounts",
    "Account",
    "ID",
    props(
        "ID:guid! Code Name SearchCode Status IsSales:bool IsSupplier:bool IsReseller:bool"
        " IsCompetitor:bool IsPilot:bool IsMailing:int Type Email Phone PhoneExtension Fax Website"
        " VATNumber VATLiability ChamberOfCommerce AddressLine1 AddressLine2 AddressLine3 Postcode"
        " City State Country CountryName! Language LanguageDescription! SalesVATCode"
        " SalesVATCodeDescription! SalesCurrency PaymentConditionSales"
        " PaymentConditionSalesDescription! PriceList:guid DiscountSales:num Blocked:bool"
        " MainContact:guid InvoiceAccount:guid AccountManager:guid Classification:guid"
        " InvoicingMethod:int Parent:guid Remarks CodeAtSupplier StartDate:date EndDate:date"
        " Latitude:num Longitude:num" + _STAMPS
    ),
    ALL,
    filter_fields=(
        "ID",
        "Code",
        "Name",
        "Email",
        "Status",
        "IsSales",
        "IsSupplier",
        "VATNumber",
        "ChamberOfCommerce",
        "Created",
        "Modified",
    ),
    wide=True,
)

CONTACTS = EntitySet(
    "crm",
    "Contacts",
    "Contact",
    "ID",
    props(
        "ID:guid! Account:guid AccountCode! AccountName! FirstName MiddleName LastName Initials"
        " FullName! Title JobTitleDescription Gender Language Email BusinessEmail Phone"
        " PhoneExtension Mobile BusinessPhone BirthDate:date Notes IsMainContact:bool AddressLine1"
        " AddressLine2 Postcode City Country StartDate:date EndDate:date" + _STAMPS
    ),
    ALL,
    filter_fields=("ID", "Account", "Email", "FirstName", "LastName", "Created", "Modified"),
    wide=True,
)

ITEMS = EntitySet(
    "logistics",
    "Items",
    "Item",
    "ID",
    props(
        "ID:guid! Code Description ExtraDescription SearchCode Barcode IsSalesItem:bool"
        " IsStockItem:bool IsPurchaseItem:bool IsWebshopItem:int IsSerialItem:bool IsBatchItem:bool"
        " SalesVatCode SalesVatCodeDescription! Unit UnitDescription! StandardSalesPrice:num"
        " CostPriceStandard:num CostPriceCurrency GLRevenue:guid GLRevenueCode! GLCosts:guid"
        " GLStock:guid ItemGroup:guid ItemGroupCode! NetWeight:num GrossWeight:num Notes"
        " StartDate:date EndDate:date Stock:num!" + _STAMPS
    ),
    ALL,
    filter_fields=("ID", "Code", "Description", "Barcode", "IsSalesItem", "Created", "Modified"),
    wide=True,
)

_ORDER_LINE = (
    "ID:guid! LineNumber:int! Item:guid ItemCode! ItemDescription! Description Quantity:num"
    " UnitPrice:num NetPrice:num Discount:num AmountFC:num! AmountDC:num! VATCode"
    " VATCodeDescription! VATPercentage:num! VATAmount:num! UnitCode UnitDescription!"
    " DeliveryDate:date Notes CostCenter CostUnit Division:int!"
)
SALES_ORDER_LINES = EntitySet(
    "salesorder",
    "SalesOrderLines",
    "SalesOrderLine",
    "ID",
    props("OrderID:guid OrderNumber:int! " + _ORDER_LINE),
)

SALES_ORDERS = EntitySet(
    "salesorder",
    "SalesOrders",
    "SalesOrder",
    "OrderID",
    props(
        "OrderID:guid! OrderNumber:int OrderDate:date DeliveryDate:date OrderedBy:guid"
        " OrderedByName! OrderedByContactPerson:guid DeliverTo:guid DeliverToName!"
        " DeliverToContactPerson:guid DeliveryAddress:guid InvoiceTo:guid InvoiceToName!"
        " InvoiceToContactPerson:guid YourRef Description Remarks Currency PaymentCondition"
        " PaymentReference ShippingMethod:guid WarehouseID:guid WarehouseCode! Salesperson:guid"
        " Status:int! StatusDescription! DeliveryStatus:int! DeliveryStatusDescription!"
        " InvoiceStatus:int! InvoiceStatusDescription! ApprovalStatus:int!"
        " ApprovalStatusDescription! AmountFC:num! AmountDC:num! AmountFCExclVat:num!"
        " AmountDiscount:num!" + _STAMPS
    ),
    ALL,
    lines="SalesOrderLines",
)

_INVOICE_LINE = (
    "ID:guid! LineNumber:int! Item:guid ItemCode! ItemDescription! Description Quantity:num"
    " UnitPrice:num NetPrice:num Discount:num AmountFC:num! AmountDC:num! VATCode"
    " VATCodeDescription! VATPercentage:num! VATAmountFC:num! VATAmountDC:num! GLAccount:guid"
    " GLAccountCode! GLAccountDescription! UnitCode DeliveryDate:date SalesOrder:guid"
    " SalesOrderLine:guid Notes CostCenter CostUnit Division:int!"
)
SALES_INVOICE_LINES = EntitySet(
    "salesinvoice",
    "SalesInvoiceLines",
    "SalesInvoiceLine",
    "ID",
    props("InvoiceID:guid " + _INVOICE_LINE),
)

SALES_INVOICES = EntitySet(
    "salesinvoice",
    "SalesInvoices",
    "SalesInvoice",
    "InvoiceID",
    props(
        "InvoiceID:guid! InvoiceNumber:int! Journal JournalDescription! Type:int TypeDescription!"
        " Status:int! StatusDescription! OrderedBy:guid OrderedByName! OrderedByContactPerson:guid"
        " InvoiceTo:guid InvoiceToName! InvoiceToContactPerson:guid DeliverTo:guid DeliverToName!"
        " DeliverToAddress:guid DeliverToContactPerson:guid YourRef Description Remarks"
        " InvoiceDate:date OrderDate:date DueDate:date Currency PaymentCondition PaymentReference"
        " OrderNumber:int Warehouse:guid Salesperson:guid ShippingMethod:guid AmountFC:num!"
        " AmountDC:num! AmountFCExclVat:num! VATAmountFC:num! VATAmountDC:num! AmountDiscount:num!"
        " Document:guid!" + _STAMPS
    ),
    ALL,
    lines="SalesInvoiceLines",
)

PRINTED_SALES_INVOICES = EntitySet(
    "salesinvoice",
    "PrintedSalesInvoices",
    "PrintedSalesInvoice",
    "InvoiceID",
    props(
        "InvoiceID:guid Division:int! Document:guid! DocumentCreationError!"
        " DocumentCreationSuccess! DocumentLayout:guid EmailCreationError! EmailCreationSuccess!"
        " EmailLayout:guid ExtraText InvoiceDate:date PostboxMessageCreationError!"
        " PostboxMessageCreationSuccess! PostboxSender:guid ReportingPeriod:int"
        " ReportingYear:int SendEmailToCustomer:bool SenderEmailAddress"
        " SendInvoiceToCustomerPostbox:bool SendOutputBasedOnAccount:bool"
    ),
    frozenset({"POST"}),
)

_ENTRY_LINE = (
    "ID:guid! LineNumber:int! AmountFC:num AmountDC:num! VATAmountFC:num VATAmountDC:num!"
    " VATBaseAmountFC:num! VATCode VATCodeDescription! VATPercentage:num! GLAccount:guid"
    " GLAccountCode! GLAccountDescription! Description Quantity:num From:date To:date"
    " CostCenter CostUnit Project:guid Notes Division:int!"
)
SALES_ENTRY_LINES = EntitySet(
    "salesentry", "SalesEntryLines", "SalesEntryLine", "ID", props("EntryID:guid " + _ENTRY_LINE)
)

SALES_ENTRIES = EntitySet(
    "salesentry",
    "SalesEntries",
    "SalesEntry",
    "EntryID",
    props(
        "EntryID:guid! EntryNumber:int! InvoiceNumber:int Journal JournalDescription! Customer:guid"
        " CustomerName! Type:int TypeDescription! Status:int! StatusDescription! YourRef"
        " Description EntryDate:date DueDate:date ReportingPeriod:int ReportingYear:int Currency"
        " PaymentCondition PaymentReference AmountFC:num AmountDC:num! VATAmountFC:num"
        " VATAmountDC:num! OrderNumber:int Document:guid" + _STAMPS
    ),
    ALL,
    lines="SalesEntryLines",
)

# The payment terms of booked sales documents (erp/exact-online.md has no section on them; the
# properties are Exact's documented ones for CashflowReceivables). Read-only here: payments
# arrive through the simulator's `/_sim/payments`, as a bank statement would match them.
RECEIVABLES = EntitySet(
    "cashflow",
    "Receivables",
    "Receivable",
    "ID",
    props(
        "ID:guid! Account:guid! AccountCode! AccountName! AmountDC:num! AmountFC:num! Currency!"
        " Description! DueDate:date! EndDate:date! EntryDate:date! EntryID:guid! EntryNumber:int!"
        " InvoiceDate:date! InvoiceNumber:int! IsFullyPaid:bool! Journal! JournalDescription!"
        " LastPaymentDate:date! OrderNumber:int! PaymentReference! Source:int! Status:int!"
        " TransactionAmountDC:num! TransactionAmountFC:num! TransactionEntryID:guid!"
        " TransactionIsReversal:bool! TransactionType:int! YourRef!" + _STAMPS
    ),
)

JOURNALS = EntitySet(
    "financial",
    "Journals",
    "Journal",
    "ID",
    props(
        "ID:guid! Code Description Type:int TypeDescription GLAccount:guid GLAccountCode"
        " Currency Division:int!"
    ),
)
GL_ACCOUNTS = EntitySet(
    "financial",
    "GLAccounts",
    "GLAccount",
    "ID",
    props(
        "ID:guid! Code Description Type:int TypeDescription BalanceSide BalanceType VATCode"
        " VATDescription Blocked:bool Division:int!"
    ),
)
VAT_CODES = EntitySet(
    "vat",
    "VATCodes",
    "VATCode",
    "ID",
    props(
        "ID:guid! Code Description Percentage:num Type VATTransactionType Charged:bool"
        " IsBlocked:bool GLToPay:guid Division:int!"
    ),
)
WAREHOUSES = EntitySet(
    "inventory",
    "Warehouses",
    "Warehouse",
    "ID",
    props(
        "ID:guid! Code Description Main:int DefaultStorageLocation:guid UseStorageLocations:int"
        " Division:int!"
    ),
)
DIVISIONS = EntitySet(
    "hrm",
    "Divisions",
    "Division",
    "Code",
    props(
        "Code:int! Description HID:int Country Currency Current:bool Main:bool Customer:guid"
        " CustomerCode CustomerName Status:int"
    ),
)
ME = EntitySet(
    "current",
    "Me",
    "Me",
    "UserID",
    props(
        "UserID:guid! UserName FullName FirstName LastName Initials Email Language LanguageCode"
        " Legislation:int CurrentDivision:int DivisionCustomer:guid DivisionCustomerCode"
        " DivisionCustomerName ServerTime:date ServerUtcOffset:num PictureUrl ThumbnailPicture"
    ),
)

ENTITY_SETS: dict[str, EntitySet] = {
    entity_set.path.lower(): entity_set
    for entity_set in (
        ACCOUNTS,
        CONTACTS,
        ITEMS,
        SALES_ORDERS,
        SALES_ORDER_LINES,
        SALES_INVOICES,
        SALES_INVOICE_LINES,
        PRINTED_SALES_INVOICES,
        SALES_ENTRIES,
        SALES_ENTRY_LINES,
        RECEIVABLES,
        JOURNALS,
        GL_ACCOUNTS,
        VAT_CODES,
        WAREHOUSES,
        DIVISIONS,
        ME,
    )
}
LINE_SETS: dict[str, EntitySet] = {
    SALES_ORDERS.path: SALES_ORDER_LINES,
    SALES_INVOICES.path: SALES_INVOICE_LINES,
    SALES_ENTRIES.path: SALES_ENTRY_LINES,
}
PARENT_SETS: dict[str, EntitySet] = {
    SALES_ORDER_LINES.path: SALES_ORDERS,
    SALES_INVOICE_LINES.path: SALES_INVOICES,
    SALES_ENTRY_LINES.path: SALES_ENTRIES,
}


def find(service: str, name: str) -> EntitySet | None:
    """The entity set at `service/Name`: the service in any case (ASP.NET routing), the set name
    exactly (WCF Data Services)."""
    found = ENTITY_SETS.get(f"{service}/{name}".lower())
    return found if found is not None and found.name == name else None
