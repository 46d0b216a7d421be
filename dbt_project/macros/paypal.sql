{#
    What a PayPal activity line is, from its `Type` and the sign of `Gross`. PayPal has dozens
    of types ('Express Checkout Payment', 'Website Payment', 'Payment Refund', 'Chargeback',
    'Payment Reversal', 'General Withdrawal', ...); these rules sort them into:
      payment    – money in from a buyer (a type containing 'payment', positive gross)
      refund     – money back to the buyer (a 'refund' or 'reversal' type, negative gross)
      chargeback – money taken back through a dispute ('chargeback', negative gross)
      other      – everything else (withdrawals, holds, currency conversions, fees): ignored
    Checked in this order, so 'Payment Refund' is a refund, not a payment.
#}
{% macro paypal_activity_kind(type_column, gross_column) -%}
    case
        when lower({{ type_column }}) like '%chargeback%' and {{ gross_column }} < 0 then 'chargeback'
        when (lower({{ type_column }}) like '%refund%' or lower({{ type_column }}) like '%reversal%')
            and {{ gross_column }} < 0 then 'refund'
        when lower({{ type_column }}) like '%payment%' and {{ gross_column }} > 0 then 'payment'
        else 'other'
    end
{%- endmacro %}


{#
    Statuses of a line whose money has moved. A payment later refunded or reversed shows
    'Refunded' / 'Partially Refunded' / 'Reversed' in some exports; it was still paid.
    Pending, Denied, Failed, Canceled, ... are not.
#}
{% macro paypal_is_settled(status_column) -%}
    coalesce(
        lower(trim({{ status_column }}))
        in ('completed', 'cleared', 'refunded', 'partially refunded', 'reversed'),
        false
    )
{%- endmacro %}
