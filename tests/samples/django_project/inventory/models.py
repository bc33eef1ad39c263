from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=100)
    sku = models.CharField(max_length=32, unique=True)


class Stock(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE)
    quantity = models.IntegerField(default=0)
