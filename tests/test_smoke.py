def test_sell_print_reprint_cancel(catalogue):
    order = catalogue.sell_concert(2)
    assert order.file_number == "00000001"
    t1, t2 = order.tickets.all()
    assert t1.barcode != t2.barcode
